from servicebay.customer360.providers import LOYALTY, MESSAGING, VISITS, Provider, template_exists
from servicebay.customer360.tabs import TABS, Tab, available_tabs


def test_an_app_that_has_not_landed_offers_nothing():
    absent = Provider("not_an_app")
    assert absent.selector("anything") is None
    assert absent.call("anything", customer_id=1) is None
    assert not absent.offers("anything")
    assert absent.service("anything") is None


def test_landed_apps_offer_the_selectors_the_console_calls():
    assert VISITS.offers("visit_kpis", "whats_next")
    assert LOYALTY.offers("loyalty_summary")
    assert MESSAGING.offers("consent_badges", "last_contacted_at")
    assert MESSAGING.service("message_send_now") is not None


def test_a_missing_selector_of_a_landed_app_is_absent_not_an_error():
    assert VISITS.selector("no_such_selector") is None


def test_a_tab_is_listed_only_when_its_template_exists():
    missing = Tab("later", "Later", "nobody/partials/not_there.html")
    assert not missing.available
    keys = [tab.key for tab in available_tabs()]
    assert keys[0] == "overview" and "vehicles" in keys
    assert all(template_exists(tab.template) == (tab.key in keys) for tab in TABS)
