"""Several Pulumi programs on one local stack: the platform first, then the services.

`LocalStack.from_programs([platform, service], stack)` evaluates them in order; the service's
StackReference to the platform (`leave:bus_stack: acme/platform/dev`) reads the platform's
real recorded outputs, so the leave rules sit on the bus the platform created on moto, next
to the platform's archive and the backup rule that copies every event to its bucket. A
reference to an output the platform does not export is an error, not a fake."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from acme_eventsourcing.local import LocalStack, LocalStackError
from acme_eventsourcing.local.program import ProgramError, evaluate_programs, merge, references

from local import PROGRAMS, ROOT


def test_the_platform_runs_first_and_leave_uses_its_bus_archive_backup_and_alarm_topic(tmp_path: Path) -> None:
    lines: list[str] = []
    with LocalStack.from_programs(PROGRAMS, "dev", port=0, log=lines.append, state_dir=tmp_path) as stack:
        platform, leave = stack.evaluated
        assert (platform.recorded.project, leave.recorded.project) == ("platform", "leave")
        assert stack.fake_outputs == () and platform.fake_outputs == () and leave.fake_outputs == ()
        bus = platform.recorded.outputs["bus_name"]
        events = stack.clients("events")
        assert bus in {b["Name"] for b in events.list_event_buses()["EventBuses"]}
        rules = events.list_rules(EventBusName=bus)["Rules"]
        declared = {r.state["name"] for r in leave.recorded.of_type("aws:cloudwatch/eventRule:EventRule")}
        # 4 projections + notifications + the reminders workflow's start and stop rules + the live-updates notifier
        assert len(declared) == 8 and {r["Name"] for r in rules} >= declared  # (moto adds the archive's own rule)
        [archive] = events.list_archives()["Archives"]
        assert archive["ArchiveName"] == platform.recorded.outputs["archive_name"] and archive["EventSourceArn"].endswith(f"/{bus}")
        alarms = leave.recorded.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        assert {a.inputs["alarmActions"][0] for a in alarms} == {platform.recorded.outputs["alarm_topic_arn"]}
        ana = stack.client("ana", "admin")
        assert ana.post("/locations", {"name": "Belgrade"}).status == 201
        stack.settle()
        assert stack.invocations_of("audit-projector"), "the event went through the platform's bus to a projection"
        # ... and through the platform's backup rule and Firehose into its bucket
        listed = stack.clients("s3").list_objects_v2(Bucket=platform.recorded.outputs["backup_bucket_name"], Prefix="events/")
        keys = [o["Key"] for o in listed.get("Contents", [])]
        assert keys and all(k.startswith("events/source=acme.leave/year=") for k in keys), keys
    banner = "\n".join(lines)
    assert re.search(r"^  programs   platform \(\S+\), then leave \(\S+\): later ones read earlier ones' outputs$", banner, re.M), banner
    assert "FAKE" not in banner


def test_the_repository_local_stack_runs_both_programs() -> None:
    from local import LocalStack as RepoStack

    assert RepoStack("dev", port=0, log=None).programs == PROGRAMS
    assert RepoStack("dev", program=ROOT, port=0, log=None).programs == (ROOT,)


def _project(root: Path, name: str, main: str, config: str = "") -> Path:
    root.mkdir()
    (root / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
    (root / "Pulumi.dev.yaml").write_text(f"config:\n  aws:region: us-east-1\n{config}")
    (root / "__main__.py").write_text(textwrap.dedent(main))
    return root


def test_a_reference_reads_the_earlier_program_and_an_output_it_lacks_is_an_error(tmp_path: Path) -> None:
    base = _project(tmp_path / "base", "base", 'import pulumi\npulumi.export("colour", "teal")\n')
    user = _project(
        tmp_path / "user",
        "user",
        """
        import pulumi
        ref = pulumi.StackReference("base", stack_name=pulumi.Config().require("base"))
        pulumi.export("seen", ref.require_output(pulumi.Config().get("read") or "colour"))
        """,
        "  user:base: acme/base/dev\n",
    )
    first, second = evaluate_programs("dev", programs=[base, user])
    assert second.recorded.outputs == {"seen": "teal"} and second.fake_outputs == ()
    assert second.read_outputs == (("acme/base/dev", "colour", "base"),) and first.read_outputs == ()
    merged = merge([first, second])
    assert merged.project == "user" and merged.outputs == {"colour": "teal", "seen": "teal"}
    assert [r.name for r in merged.resources if r.type == "pulumi:pulumi:StackReference"] == ["base"]
    alone = evaluate_programs("dev", programs=[user])[0]  # no base: the reference is faked, and said so
    assert [(ref, name) for ref, name, _ in alone.fake_outputs] == [("acme/base/dev", "colour")]
    with pytest.raises(ProgramError, match=r"acme/base/dev is the program 'base', which exports no 'shape' \(it exports \['colour'\]\)"):
        evaluate_programs("dev", programs=[base, user], config_overrides={"user:read": "shape"})


def test_programs_that_clash_are_refused(tmp_path: Path) -> None:
    main = 'import pulumi_aws as aws\naws.sqs.Queue("jobs")\n'
    one, two = _project(tmp_path / "one", "one", main), _project(tmp_path / "two", "two", main)
    with pytest.raises(ProgramError, match=r"programs 'one' and 'two' both declare aws:sqs/queue:Queue 'jobs'"):
        merge(evaluate_programs("dev", programs=[one, two]))
    with pytest.raises(LocalStackError, match="both declare"):
        LocalStack.from_programs([one, two], "dev", port=0, log=None, state_dir=tmp_path).start()
    with pytest.raises(LocalStackError, match="not both"):
        LocalStack("dev", program=one, programs=[two], log=None)


def test_a_reference_names_a_project_and_stack_of_any_organization() -> None:
    assert references("acme/platform/dev", "platform", "dev") and references("platform/dev", "platform", "dev")
    assert not references("acme/platform/prod", "platform", "dev") and not references("dev", "platform", "dev")
    assert not references("x/leave/dev", "platform", "dev")
