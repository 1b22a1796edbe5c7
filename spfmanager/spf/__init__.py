"""The RFC 7208 engine: terms, parser, macros, limits, record selection, check_host, results.

``parser`` (text -> :mod:`terms`, with :mod:`macros`) -> ``compiled`` (address tables) ->
``evaluate`` (check_host() over a :class:`~spfmanager.dns.base.Resolver`, with a
:mod:`trace`); ``select`` picks the SPF record of a TXT answer (4.5), ``limits`` holds the
section-cited constants, ``results`` the results, qualifiers and the one vocabulary of
causes, ``ranges`` the address-range algebra the flattener builds on.

May import :mod:`spfmanager.dns` and :mod:`spfmanager.errors` only: everything above builds
on it, nothing in it knows about flattening, publishing or the CLI.
"""
