"""The live-updates contract: notices and messages validate against their own schemas, and bad
names are refused with the name in the error."""

import jsonschema
import pytest
from acme_eventsourcing.runtime import live_messages as lm


def _notice(**overrides):
    args = dict(
        view="pending",
        topics=["approvers#loc-1", "admins", "approvers#loc-1"],
        event_id="ev-1",
        event_type="LeaveRequested",
        stream_id="employee#e-1",
        version=4,
        stored_at="2026-11-30T10:00:00.123Z",
    )
    args.update(overrides)
    return lm.read_model_changed(**args)


def test_notice_and_message_match_their_schemas():
    notice = _notice()
    jsonschema.validate(notice, lm.READ_MODEL_CHANGED_SCHEMA)
    assert notice["topics"] == ["approvers#loc-1", "admins"]
    message = lm.changed(notice, "admins")
    jsonschema.validate(message, lm.CHANGED_MESSAGE_SCHEMA)
    assert message["type"] == "changed" and message["topic"] == "admins"
    assert message["event"] == {"id": "ev-1", "type": "LeaveRequested", "stream": "employee#e-1", "version": 4}


def test_message_only_for_a_topic_of_the_notice():
    with pytest.raises(ValueError, match="location#loc-2"):
        lm.changed(_notice(), "location#loc-2")


@pytest.mark.parametrize("topic", ["", "has space", "a#" + "x" * 300, "semi;colon"])
def test_bad_topic_refused_by_name(topic):
    with pytest.raises(ValueError, match="invalid live-updates topic"):
        _notice(topics=[topic])


def test_bad_view_refused():
    with pytest.raises(ValueError, match="invalid view name"):
        _notice(view="Pending View")


def test_schema_rejects_extra_fields():
    message = lm.changed(_notice(), "admins") | {"balance": 12}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(message, lm.CHANGED_MESSAGE_SCHEMA)


def test_live_source_is_not_the_service_source():
    assert lm.live_source("acme.leave") == "acme.leave.live"
