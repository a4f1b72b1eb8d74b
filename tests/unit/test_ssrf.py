"""The outbound address rules: every spelling of an address is judged by where its packets would go."""

import pytest

from asyncinfer.domain.ssrf import OutboundPolicy, Reach, RefusedUrl, check_literal, check_url, pin

STRICT = OutboundPolicy()
PRIVATE_ALLOWED = OutboundPolicy(allow_private=True)


def resolver(*addresses):
    return lambda host: list(addresses)


# (URL, where it leads). Refusals are proven by the checker's answer: nothing is ever connected to.
SPELLINGS = [
    # loopback and private, in every spelling
    ("http://127.0.0.1/", Reach.PRIVATE),
    ("http://127.0.0.1./", Reach.PRIVATE),  # trailing dot
    ("http://[::ffff:127.0.0.1]/", Reach.PRIVATE),  # IPv4-mapped
    ("http://[::ffff:7f00:1]/", Reach.PRIVATE),  # IPv4-mapped, hexadecimal
    ("http://[::127.0.0.1]/", Reach.PRIVATE),  # IPv4-compatible
    ("http://[2002:7f00:1::]/", Reach.PRIVATE),  # 6to4
    ("http://[64:ff9b::7f00:1]/", Reach.PRIVATE),  # NAT64
    ("http://[64:ff9b:1::a00:1]/", Reach.PRIVATE),  # local-use NAT64
    ("http://[::ffff:0:7f00:1]/", Reach.PRIVATE),  # IPv4-translated (SIIT, ::ffff:0:0/96)
    ("http://[::ffff:0:127.0.0.1]/", Reach.PRIVATE),  # IPv4-translated, dotted
    ("http://[::ffff:0:10.0.0.1]/", Reach.PRIVATE),  # IPv4-translated, private
    ("http://2130706433/", Reach.PRIVATE),  # decimal
    ("http://0177.0.0.1/", Reach.PRIVATE),  # octal
    ("http://0x7f.0.0.1/", Reach.PRIVATE),  # hexadecimal part
    ("http://0x7f000001/", Reach.PRIVATE),  # hexadecimal whole
    ("http://127.1/", Reach.PRIVATE),  # short form
    ("http://localhost/", Reach.PRIVATE),
    ("http://LOCALHOST./", Reach.PRIVATE),
    ("http://api.localhost:8080/", Reach.PRIVATE),
    ("http://[::1]/", Reach.PRIVATE),
    ("http://[0:0:0:0:0:0:0:1]/", Reach.PRIVATE),
    ("http://[::ffff:10.0.0.1]/", Reach.PRIVATE),
    ("http://012.0.0.1/", Reach.PRIVATE),  # octal 10.0.0.1
    ("http://[::ffff:192.168.0.1]/", Reach.PRIVATE),
    ("http://[fc00::1]/", Reach.PRIVATE),
    ("http://100.64.0.1/", Reach.PRIVATE),  # shared address space
    ("http://192.0.2.1/", Reach.PRIVATE),  # documentation range: not globally routable
    # never: link-local, metadata, unspecified, multicast, in every spelling
    ("http://169.254.169.254/", Reach.NEVER),
    ("http://[::ffff:169.254.169.254]/", Reach.NEVER),
    ("http://[::ffff:a9fe:a9fe]/", Reach.NEVER),
    ("http://[::169.254.169.254]/", Reach.NEVER),
    ("http://[2002:a9fe:a9fe::]/", Reach.NEVER),  # 6to4 of the metadata address
    ("http://[64:ff9b::a9fe:a9fe]/", Reach.NEVER),  # NAT64 of it
    ("http://[::ffff:0:169.254.169.254]/", Reach.NEVER),  # IPv4-translated (SIIT) of it
    ("http://[::ffff:0:a9fe:a9fe]/", Reach.NEVER),
    ("http://2852039166/", Reach.NEVER),  # decimal
    ("http://0xa9fea9fe/", Reach.NEVER),
    ("http://0251.0376.0251.0376/", Reach.NEVER),  # octal
    ("http://169.254.43518/", Reach.NEVER),  # short form
    ("http://169.254.170.2/", Reach.NEVER),  # the container credentials endpoint
    ("http://[fd00:ec2::254]/", Reach.NEVER),
    ("http://[fe80::1%25eth0]/", Reach.NEVER),  # zone id
    ("http://0.0.0.0/", Reach.NEVER),
    ("http://0/", Reach.NEVER),
    ("http://[::]/", Reach.NEVER),
    ("http://224.0.0.1/", Reach.NEVER),
    ("http://[ff02::1]/", Reach.NEVER),
    ("http://metadata.google.internal./", Reach.NEVER),
    # public
    ("http://93.184.216.34/", Reach.PUBLIC),
    ("http://1572395042/", Reach.PUBLIC),  # the same, in decimal
    ("http://[::ffff:93.184.216.34]/", Reach.PUBLIC),
    ("http://[::ffff:0:93.184.216.34]/", Reach.PUBLIC),  # IPv4-translated: judged by the IPv4 it carries
    ("http://[2606:4700:4700::1111]/", Reach.PUBLIC),
    ("https://mcp.example.com/", Reach.PUBLIC),  # a name: checked with DNS at connect, not at submit
]


@pytest.mark.parametrize(("url", "leads_to"), SPELLINGS)
def test_a_literal_address_is_refused_at_submit_by_where_it_leads_in_any_spelling(url, leads_to):
    if leads_to == Reach.PUBLIC:
        check_literal(url, STRICT)
    else:
        with pytest.raises(RefusedUrl):
            check_literal(url, STRICT)
    if leads_to == Reach.NEVER:
        with pytest.raises(RefusedUrl):
            check_literal(url, PRIVATE_ALLOWED)
    else:
        check_literal(url, PRIVATE_ALLOWED)


def test_there_are_at_least_thirty_spellings():
    assert len(SPELLINGS) >= 30


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::",
        "::ffff:0:7f00:1",  # IPv4-translated (SIIT)
        "::ffff:0:a00:1",
    ],
)
def test_a_name_resolving_to_an_embedded_private_address_is_refused_at_connect(address):
    with pytest.raises(RefusedUrl):
        check_url("http://rebind.example.com/", STRICT, resolver(address))


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("http://169.254.169.254/latest", ()),
        ("http://evil.example.com/mcp", ("169.254.169.254",)),  # a name that resolves to the metadata service
        ("http://evil.example.com/mcp", ("93.184.216.34", "169.254.170.2")),  # any bad address refuses
        ("http://[fe80::1]/", ()),
        ("http://[fd00:ec2::254]/", ()),
        ("http://metadata.google.internal/", ()),
        ("http://0.0.0.0:8080/", ()),
        ("ftp://example.com/", ()),
        ("gopher://example.com/", ()),
        ("http:///nohost", ()),
    ],
)
def test_always_refused(url, addresses):
    trusting = OutboundPolicy(allow_private=True, allowed_hosts=("169.254.169.254", "169.254.0.0/16"))
    with pytest.raises(RefusedUrl):
        check_url(url, trusting, resolver(*addresses))


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("http://10.1.2.3/mcp", ()),
        ("http://127.0.0.1:8000/mcp", ()),
        ("http://internal.corp/mcp", ("192.168.1.10",)),
        ("http://cgnat.example/mcp", ("100.64.0.5",)),
        ("http://[::1]/mcp", ()),
    ],
)
def test_private_refused_unless_allowed_or_listed(url, addresses):
    with pytest.raises(RefusedUrl, match="private address"):
        check_url(url, STRICT, resolver(*addresses))
    assert check_url(url, PRIVATE_ALLOWED, resolver(*addresses)) == url


def test_allow_list_by_host_name_or_cidr_also_for_embedded_forms():
    url = "http://tools.internal/mcp"
    assert check_url(url, OutboundPolicy(allowed_hosts=("tools.internal",)), resolver("10.0.0.7"))
    assert check_url(url, OutboundPolicy(allowed_hosts=("10.0.0.0/24",)), resolver("10.0.0.7"))
    assert check_url(url, OutboundPolicy(allowed_hosts=("10.0.0.0/24",)), resolver("::ffff:10.0.0.7"))
    with pytest.raises(RefusedUrl):
        check_url(url, OutboundPolicy(allowed_hosts=("10.0.1.0/24",)), resolver("10.0.0.7"))


def test_public_addresses_pass_and_resolution_failures_refuse():
    assert check_url("https://mcp.example.com/mcp", STRICT, resolver("93.184.216.34"))

    def broken(host):
        raise OSError("no such host")

    with pytest.raises(RefusedUrl, match="resolve"):
        check_url("https://nowhere.invalid/mcp", STRICT, broken)


def test_a_pinned_url_connects_to_the_checked_address_and_keeps_the_host_name():
    target = pin("https://hooks.example.com:8443/in?x=1", STRICT, resolver("93.184.216.34"))
    assert target.url == "https://93.184.216.34:8443/in?x=1" and target.address == "93.184.216.34"
    assert target.host_header == "hooks.example.com:8443" and target.server_name == "hooks.example.com"
    plain = pin("http://[2606:4700:4700::1111]/hook", STRICT, resolver())
    assert plain.url == "http://[2606:4700:4700::1111]/hook" and plain.server_name is None


def test_pinning_refuses_what_the_check_refuses():
    with pytest.raises(RefusedUrl):
        pin("https://rebind.example.com/", STRICT, resolver("169.254.169.254"))
