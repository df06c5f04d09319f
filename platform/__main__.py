"""The platform stack: composition root only - read config, build components, export.

What the services on the shared bus share, owned once and managed apart from them (a
service's `pulumi destroy` never touches it):

- the `SharedEventBus` with its archive (`archive_retention_days`) and the cross-account
  bus policy (`allowed_account_ids` / `allowed_organization_id`);
- the `EventBackup`: every event on the bus, through a rule and Firehose, in a retained,
  versioned, encrypted S3 bucket (the copy that survives the loss of the archive); its
  alarms notify the alarm topic;
- the `AlarmTopic`: the encrypted SNS topic CloudWatch alarms of this account publish to;
  the service stacks add it to their `alarm_actions`.

A service stack references this one (`leave:bus_stack: acme/platform/<stack>`) and reads
the outputs exported below; it creates neither the bus, nor its archive, nor the backup.
"""

from __future__ import annotations

import pulumi
from acme_eventsourcing import AlarmTopic, AlarmTopicArgs, EventBackup, EventBackupArgs, SharedEventBus, SharedEventBusArgs

config = pulumi.Config()

#: On every resource of the stack that takes tags: which project and stack owns it.
tags = {"project": pulumi.get_project(), "stack": pulumi.get_stack()}

alarms = AlarmTopic("platform-alarms", AlarmTopicArgs(display_name=config.get("alarm_topic_display_name"), tags=tags))
bus = SharedEventBus(
    "platform-bus",
    SharedEventBusArgs(
        archive_retention_days=config.get_int("archive_retention_days"),
        allowed_account_ids=tuple(config.get_object("allowed_account_ids") or ()),
        allowed_organization_id=config.get("allowed_organization_id"),
        description="The bus every service publishes to and subscribes from",
        tags=tags,
    ),
)
assert bus.archive is not None  # a created bus always has its archive
backup = EventBackup("platform-backup", EventBackupArgs(bus=bus.ref, alarm_actions=(alarms.topic_arn,), tags=tags))

# What the service stacks read through a StackReference (output names are the contract).
pulumi.export("bus_name", bus.bus_name)
pulumi.export("bus_arn", bus.bus_arn)
pulumi.export("archive_name", bus.archive.name)
pulumi.export("archive_arn", bus.archive.arn)
pulumi.export("alarm_topic_arn", alarms.topic_arn)
pulumi.export("backup_bucket_name", backup.bucket_name)
pulumi.export("backup_bucket_arn", backup.bucket_arn)
pulumi.export("backup_delivery_stream_name", backup.delivery_stream_name)
