"""Conformance tests against the real receiver SPF libraries: pyspf, Mail::SPF, libspf2 and
mailauth, each driven in batch against a real BIND on 127.0.0.1 (:mod:`.receivers`).

* :mod:`.receivers`: the drivers' Python API (``ReceiverLab``, ``run_batch``);
* :mod:`.differential`: a library against spfmanager under that library's profile;
* :mod:`.suite`: the RFC 7208 suite as batches, and ``known_departures.yaml``;
* ``test_*``: the suite's departures, the profiles, and targeted probes.

Every test is marked ``conformance`` (``pytest -m conformance``). See docs/receivers.md.
"""
