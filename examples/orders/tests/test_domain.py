"""The orders domain: pure decisions, given events, when a command, then events or a refusal."""

from __future__ import annotations

from datetime import date

import pytest
from orders import domain

TODAY = date(2027, 3, 1)
DESK = [{"sku": "monitor-27", "quantity": 2}, {"sku": "keyboard", "quantity": 1}]


def placed(order_id: str = "o1", employee_id: str = "ana") -> domain.Order:
    events = domain.place(domain.Order(), order_id=order_id, employee_id=employee_id, items=DESK, deliver_on=date(2027, 3, 5), today=TODAY)
    return domain.fold(events)


def test_placing_an_order_records_its_lines_and_delivery_day():
    events = domain.place(domain.Order(), order_id="o1", employee_id="ana", items=DESK, deliver_on=date(2027, 3, 5), today=TODAY)
    assert events == [
        (
            "OrderPlaced",
            {
                "order_id": "o1",
                "employee_id": "ana",
                "items": [{"sku": "monitor-27", "quantity": 2}, {"sku": "keyboard", "quantity": 1}],
                "deliver_on": "2027-03-05",
            },
        )
    ]
    assert domain.fold(events) == domain.Order(
        "o1", "ana", "placed", (domain.Line("monitor-27", 2), domain.Line("keyboard", 1)), "2027-03-05"
    )


@pytest.mark.parametrize(
    ("items", "deliver_on", "code"),
    [
        ([], date(2027, 3, 5), "too_many_lines"),
        ([{"sku": "pen", "quantity": 1}] * 2, date(2027, 3, 5), "duplicate_sku"),
        ([{"sku": "pen", "quantity": 11}], date(2027, 3, 5), "quantity_out_of_range"),
        ([{"sku": "pen", "quantity": 0}], date(2027, 3, 5), "quantity_out_of_range"),
        ([{"sku": "pen", "quantity": 1}], TODAY, "delivery_date_passed"),
    ],
)
def test_placing_refuses_what_the_warehouse_cannot_deliver(items, deliver_on, code):
    with pytest.raises(domain.RuleViolated) as refused:
        domain.place(domain.Order(), order_id="o1", employee_id="ana", items=items, deliver_on=deliver_on, today=TODAY)
    assert refused.value.code == code


def test_an_order_id_is_placed_once():
    with pytest.raises(domain.InvalidState):
        domain.place(placed(), order_id="o1", employee_id="ana", items=DESK, deliver_on=date(2027, 3, 5), today=TODAY)


def test_only_the_warehouse_ships_and_only_an_open_order():
    with pytest.raises(domain.Forbidden):
        domain.ship(placed(), order_id="o1", caller="ana", groups=frozenset())
    shipped = domain.ship(placed(), order_id="o1", caller="wes", groups=frozenset({"warehouse"}))
    assert shipped == [("OrderShipped", {"order_id": "o1", "employee_id": "ana", "shipped_by": "wes"})]
    state = domain.fold([("OrderPlaced", {"order_id": "o1", "employee_id": "ana", "items": DESK, "deliver_on": "2027-03-05"}), *shipped])
    assert state.status == "shipped"
    with pytest.raises(domain.InvalidState):
        domain.ship(state, order_id="o1", caller="wes", groups=frozenset({"warehouse"}))
    with pytest.raises(domain.InvalidState):
        domain.cancel(state, order_id="o1", caller="ana")


def test_only_the_orderer_cancels():
    with pytest.raises(domain.Forbidden):
        domain.cancel(placed(), order_id="o1", caller="bob")
    assert domain.cancel(placed(), order_id="o1", caller="ana", reason="wrong size") == [
        ("OrderCancelled", {"order_id": "o1", "employee_id": "ana", "cancelled_by": "ana", "reason": "wrong size"})
    ]


def test_an_unknown_order_is_not_found():
    with pytest.raises(domain.NotFound):
        domain.ship(domain.Order(), order_id="nope", caller="wes", groups=frozenset({"warehouse"}))
    with pytest.raises(domain.NotFound):
        domain.cancel(domain.Order(), order_id="nope", caller="ana")
