"""Row a's WAF figure (bench/cost.py): each request API Gateway took is inspected once, at WAF's price."""

from bench.cost import waf_month, waf_per_million
from bench.prices import PRICES


def test_the_waf_figure_prices_every_api_request_once():
    # Per 1M tasks: submit, poll and list, one API request each (what API Gateway's share of row a counts).
    measured = {
        phase: {"apigateway": 1e6 * PRICES["apigateway_rest_request"], "lambda": 1.0} for phase in ("a", "b", "c")
    }
    assert round(waf_per_million(measured), 6) == round(3e6 * PRICES["waf_request"], 6) == 1.80
    assert waf_per_million({"a": {"lambda": 2.0}}) == 0


def test_the_monthly_fee_is_the_acl_and_its_rules():
    assert waf_month(3) == 8.0 and waf_month(5) == 10.0
