-- The organizers' dashboard: reports received in a period, and what is overdue right now.
-- (Assigned and closed in a period use reports_assigned_at and reports_closed_at from 003; ratings use
-- report_ratings_rated_at.)
CREATE INDEX reports_created_at ON reports(created_at);
CREATE INDEX reports_open_due ON reports(due_at) WHERE closed_at IS NULL;
