"""Broker priorities, shared by the Celery app (``workers.celery_app``) and the queue service
(``backend.services.queue``), which sends, counts and restores messages by them."""

from __future__ import annotations

#: Redis priorities (0 is popped first): recovered runs jump ahead of launched ones.
FRONT_PRIORITY, NORMAL_PRIORITY = 0, 6
PRIORITY_STEPS = (FRONT_PRIORITY, NORMAL_PRIORITY)
PRIORITY_SEP = "\x06\x16"  # kombu's separator between a queue's name and its priority
