"""Handler groups. PTB runs one matching handler per group, groups in order, until one stops it."""

COMMANDS = 0  # /commands, and feature buttons with their own callback prefixes
FLOWS = 1  # the person's current draft takes messages and flow buttons
MENU = 2  # main-menu reply-keyboard labels
FALLBACK = 9  # anything left: stale buttons, stickers, text nobody expected
