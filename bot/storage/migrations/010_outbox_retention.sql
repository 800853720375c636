-- The rows of the outbox that still hold content (parameters, buttons, an attachment). The daily sweep
-- that clears it from rows closed long ago reads this index, so its cost follows the rows left to clear,
-- not every message the outbox ever held. The expression matches bot/delivery/outbox.py's _HAS_CONTENT.
CREATE INDEX outbox_with_content ON outbox(id) WHERE
    (params <> '{}' OR buttons IS NOT NULL OR photo IS NOT NULL OR document IS NOT NULL OR voice IS NOT NULL);
