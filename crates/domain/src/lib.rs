//! Insyn's shared business rules: the activity-report schema, reporting status and access policy.
