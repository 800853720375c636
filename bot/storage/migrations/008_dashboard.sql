-- The organizers' dashboard: reports received in a period (by filing time).
-- Assigned and closed in a period use reports_assigned_at and reports_closed_at (003), ratings given use
-- report_ratings_rated_at, and "overdue now" starts from the open reports (reports_closed_at IS NULL).
CREATE INDEX reports_created_at ON reports(created_at);
