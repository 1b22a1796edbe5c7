"""Real servers on 127.0.0.1 that speak a provider's API contract, for integration tests."""
