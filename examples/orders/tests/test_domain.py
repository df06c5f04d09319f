"""The orders domain: pure decisions, given events, when a command, then events or a refusal."""

from __future__ import annotations

from datetime import date

import pytest
from orders import domain
from orders.domain import CancelOrder, Conflict, Forbidden, NotFound, PlaceOrder, Rejected, ShipOrder

TODAY = date(2027, 3, 1)
DESK = ({"sku": "monitor-27", "quantity": 2}, {"sku": "keyboard", "quantity": 1})
WAREHOUSE = frozenset({"warehouse"})


def place(items=DESK, deliver_on=date(2027, 3, 5)) -> PlaceOrder:
    return PlaceOrder(order_id="o1", employee_id="ana", items=tuple(items), deliver_on=deliver_on)


def given(*commands) -> domain.Order:
    """The state after the events `commands` decided, one after the other."""
    state, history = domain.Order(), []
    for command in commands:
        for event in domain.decide(state, command, today=TODAY):
            history.append((event.event_type, event.data))
        state = domain.fold(history)
    return state


def test_placing_an_order_records_its_lines_and_delivery_day():
    [event] = domain.decide(domain.Order(), place(), today=TODAY)
    assert (event.stream_id, event.event_type) == ("order-o1", "OrderPlaced")
    assert event.to_data() == {
        "order_id": "o1",
        "employee_id": "ana",
        "items": [{"sku": "monitor-27", "quantity": 2}, {"sku": "keyboard", "quantity": 1}],
        "deliver_on": "2027-03-05",
    }
    assert given(place()) == domain.Order("o1", "ana", "placed", (domain.Line("monitor-27", 2), domain.Line("keyboard", 1)), "2027-03-05")


@pytest.mark.parametrize(
    ("items", "deliver_on", "code"),
    [
        ((), date(2027, 3, 5), "too_many_lines"),
        (({"sku": "pen", "quantity": 1},) * 2, date(2027, 3, 5), "duplicate_sku"),
        (({"sku": "pen", "quantity": 11},), date(2027, 3, 5), "quantity_out_of_range"),
        (({"sku": "pen", "quantity": 0},), date(2027, 3, 5), "quantity_out_of_range"),
        (({"sku": "pen", "quantity": 1},), TODAY, "delivery_date_passed"),
    ],
)
def test_placing_refuses_what_the_warehouse_cannot_deliver(items, deliver_on, code):
    with pytest.raises(Rejected) as refused:
        domain.decide(domain.Order(), place(items, deliver_on), today=TODAY)
    assert refused.value.code == code


def test_an_order_id_is_placed_once():
    with pytest.raises(Conflict):
        domain.decide(given(place()), place(), today=TODAY)


def test_only_the_warehouse_ships_and_only_an_open_order():
    with pytest.raises(Forbidden):
        domain.decide(given(place()), ShipOrder("o1", by="ana"), today=TODAY)
    [shipped] = domain.decide(given(place()), ShipOrder("o1", by="wes", groups=WAREHOUSE), today=TODAY)
    assert (shipped.event_type, shipped.data) == ("OrderShipped", {"order_id": "o1", "employee_id": "ana", "shipped_by": "wes"})
    state = given(place(), ShipOrder("o1", by="wes", groups=WAREHOUSE))
    assert state.status == "shipped"
    with pytest.raises(Conflict):
        domain.decide(state, ShipOrder("o1", by="wes", groups=WAREHOUSE), today=TODAY)
    with pytest.raises(Conflict):
        domain.decide(state, CancelOrder("o1", by="ana"), today=TODAY)


def test_only_the_orderer_cancels():
    with pytest.raises(Forbidden):
        domain.decide(given(place()), CancelOrder("o1", by="bob"), today=TODAY)
    [cancelled] = domain.decide(given(place()), CancelOrder("o1", by="ana", reason="wrong size"), today=TODAY)
    assert cancelled.data == {"order_id": "o1", "employee_id": "ana", "cancelled_by": "ana", "reason": "wrong size"}


def test_an_unknown_order_is_not_found():
    with pytest.raises(NotFound):
        domain.decide(domain.Order(), ShipOrder("nope", by="wes", groups=WAREHOUSE), today=TODAY)
    with pytest.raises(NotFound):
        domain.decide(domain.Order(), CancelOrder("nope", by="ana"), today=TODAY)
