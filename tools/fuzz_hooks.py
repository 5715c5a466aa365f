"""Schemathesis extensions for scripts/fuzz-api: the description's custom formats.

`ip-cidr` (an IP allowlist entry): an IPv4 or IPv6 address, or a network of one with its host
bits clear, as the admin API accepts them. The description says so in words and with a
pattern of its characters; this teaches the fuzzer to make such values.
"""

import ipaddress

import schemathesis
from hypothesis import strategies as st


def _networks(bits: int, network):
    def make(pair):
        address, prefix = pair
        return str(network((address, prefix), strict=False))

    return st.tuples(st.integers(0, 2**bits - 1), st.integers(0, bits)).map(make)


schemathesis.openapi.format(
    "ip-cidr",
    st.one_of(
        st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n))),
        st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),
        _networks(32, ipaddress.IPv4Network),
        _networks(128, ipaddress.IPv6Network),
    ),
)
