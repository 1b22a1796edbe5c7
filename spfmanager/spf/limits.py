"""Processing limits of RFC 7208 and of DNS transport."""

from __future__ import annotations

MAX_DNS_LOOKUPS = 10  # RFC 7208 4.6.4: include, a, mx, ptr, exists, redirect
MAX_VOID_LOOKUPS = 2  # RFC 7208 4.6.4: NXDOMAIN or empty answers
MAX_MX_NAMES = 10  # RFC 7208 4.6.4: more MX records than this is permerror
MAX_PTR_NAMES = 10  # RFC 7208 4.6.4: only the first 10 PTR names are checked
MAX_DOMAIN_LENGTH = 253  # RFC 7208 7.3: longer expansions are truncated from the left
MAX_LABEL_LENGTH = 63  # RFC 1035 2.3.4
MAX_UDP_ANSWER = 512  # RFC 1035 4.2.1 and RFC 7208 3.4: answers should fit one UDP packet
DNS_HEADER_BYTES = 12  # RFC 1035 4.1.1
# Not in RFC 7208: its lookup limit bounds nesting to 11 records, but a raised limit (or a
# receiver counting lookups per include, as libspf2 does) leaves only the nesting to bound
# recursion. 20 nested records, as pyspf's MAX_RECURSION and libspf2's "depth > 20".
MAX_DEPTH = 20
