"""The notifications bounded context: leave events on the shared bus sent to Slack by EventBridge
(API destination, no Lambda): `slack` holds the messages, pure data."""
