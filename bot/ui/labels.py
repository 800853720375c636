"""Names of enum values as people read them (message ids, translated where shown)."""

from __future__ import annotations

from bot.domain.people import Role
from bot.i18n import N_

ROLE_LABELS: dict[Role, str] = {
    Role.RESIDENT: N_("resident"),
    Role.VOLUNTEER: N_("volunteer"),
    Role.INFORMANT: N_("informant"),
    Role.GRID_WORKER: N_("grid worker (full-time)"),
    Role.PART_TIME_WORKER: N_("grid worker (part-time)"),
    Role.SECRETARY: N_("grid team lead"),
    Role.ORGANIZER: N_("organizer"),
    Role.REPRESENTATIVE: N_("representative"),
    Role.STAKEHOLDER: N_("stakeholder"),
    Role.ADMIN: N_("street admin"),
}
