"""DNS: the resolver protocol and its answers (``base``), live DNS through dnspython
(``resolver``), offline snapshots (``snapshot``), memo/overlay/recording wrappers, and TXT
character-strings (``txt``).

May import :mod:`spfmanager.errors` and :mod:`spfmanager.files` only.
"""
