"""Telling people things: the in-app inbox, emails from templates with a delivery log, each
person's email preferences and the center's defaults, and exactly-once sends
(docs/notifications.md).

Every event and reminder goes through `notify()`; the kinds are listed in `notifications.kinds`.
"""
