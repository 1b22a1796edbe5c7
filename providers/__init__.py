"""DNS provider adapters, installed as ``spfmanager.providers``."""
