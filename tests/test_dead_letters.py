"""A street admin sees the messages the outbox gave up on, and why."""

from __future__ import annotations

from pathlib import Path

from bot.delivery import outbox
from bot.domain.people import Role
from bot.i18n import N_
from bot.sandbox.fake_telegram import Fault
from tests.reports_street import add_person
from tests.support.people import BotHarness


async def test_admin_sees_a_message_that_could_not_be_delivered(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as h:
        db, now = h.services.db, h.clock.now()
        sun, mei = h.person("Sun", "en"), h.person("Mei", "en")
        await add_person(db, now, telegram_id=sun.id, name="Sun", role=Role.ADMIN)
        mei_id = await add_person(db, now, telegram_id=mei.id, name="Mei", role=Role.VOLUNTEER, scope_id=1)
        await sun.send("/deadletters")
        assert "Every message was delivered" in sun.last_message.text
        h.core.fail_next(method="sendMessage", chat_id=mei.id, error=Fault.blocked())
        async with db.transaction() as conn:
            await outbox.enqueue(conn, now=now, recipients=[mei_id], template=N_("Language changed."))
        await h.settle()
        await sun.send("/deadletters")
        text = sun.last_message.text
        assert "Undelivered messages" in text and f"person #{mei_id}" in text
        assert "recipient unreachable" in text and "Language changed." in text
        await mei.send("/deadletters")
        assert "for staff" in mei.last_message.text
