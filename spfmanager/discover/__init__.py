"""Who sends as a domain: DMARC aggregate reports read safely, each source attributed to a
catalog service, and the config edits that authorize the legitimate ones.

The pipeline: :mod:`.sources` (files, archives, mail, IMAP) -> :mod:`.reports` (XML, with
size and entry limits) -> :mod:`.model` (typed reports) -> :mod:`.analyze` (aggregation and
attribution) -> :mod:`.suggest` (config edits with their proof) -> renderers.

It may import ``errors``, ``files``, ``dns``, ``spf``, ``flatten``, ``catalog``, ``config``
and ``compile``; ``explain.config_edit`` (a config edit is worded as ``explain`` words
it) and ``publish.build`` (to flatten an intent exactly as the build stage does); nothing
else of ``publish`` (it never writes DNS).
"""
