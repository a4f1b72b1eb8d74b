import pytest

from asyncinfer.tasks.ssrf import RefusedUrl, check_url, pin


def resolver(*addresses):
    return lambda host: list(addresses)


@pytest.mark.parametrize(
    "url, addresses",
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
    with pytest.raises(RefusedUrl):
        check_url(
            url, allow_private=True, allowed_hosts=["169.254.169.254", "169.254.0.0/16"], resolver=resolver(*addresses)
        )


@pytest.mark.parametrize(
    "url, addresses",
    [
        ("http://10.1.2.3/mcp", ()),
        ("http://127.0.0.1:8000/mcp", ()),
        ("http://internal.corp/mcp", ("192.168.1.10",)),
        ("http://cgnat.example/mcp", ("100.64.0.5",)),
        ("http://[::1]/mcp", ()),
    ],
)
def test_private_refused_unless_allowed_or_listed(url, addresses):
    with pytest.raises(RefusedUrl, match="private"):
        check_url(url, allow_private=False, resolver=resolver(*addresses))
    assert check_url(url, allow_private=True, resolver=resolver(*addresses)) == url


def test_allow_list_by_host_name_or_cidr():
    url = "http://tools.internal/mcp"
    assert check_url(url, allow_private=False, allowed_hosts=["tools.internal"], resolver=resolver("10.0.0.7"))
    assert check_url(url, allow_private=False, allowed_hosts=["10.0.0.0/24"], resolver=resolver("10.0.0.7"))
    with pytest.raises(RefusedUrl):
        check_url(url, allow_private=False, allowed_hosts=["10.0.1.0/24"], resolver=resolver("10.0.0.7"))


def test_public_addresses_pass_and_resolution_failures_refuse():
    assert check_url("https://mcp.example.com/mcp", allow_private=False, resolver=resolver("93.184.216.34"))

    def broken(host):
        raise OSError("no such host")

    with pytest.raises(RefusedUrl, match="resolve"):
        check_url("https://nowhere.invalid/mcp", allow_private=False, resolver=broken)


def test_a_pinned_url_connects_to_the_checked_address_and_keeps_the_host_name():
    target = pin("https://hooks.example.com:8443/in?x=1", allow_private=False, resolver=lambda host: ["203.0.113.7"])
    assert target.url == "https://203.0.113.7:8443/in?x=1"
    assert target.host_header == "hooks.example.com:8443" and target.server_name == "hooks.example.com"
    plain = pin("http://[2001:db8::1]/hook", allow_private=False)
    assert plain.url == "http://[2001:db8::1]/hook" and plain.server_name is None


def test_pinning_refuses_what_the_check_refuses():
    with pytest.raises(RefusedUrl):
        pin("https://rebind.example.com/", allow_private=False, resolver=lambda host: ["169.254.169.254"])
