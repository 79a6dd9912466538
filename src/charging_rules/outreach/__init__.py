"""Partners for Peace outreach: the police's weekly list of shooting victims, through the same
guideline engine and audit log as charging, into the referral list for the hub.

weekly   the weekly CSV: parse and validate every row (a bad row rejects the whole week)
history  what the audit log already says: imported weeks, earlier referrals, contacts
importer evaluate a week, log every decision, write the hub's list
status   referrals this year against the goal, by week, with a projection
contacts the hub's contact outcomes, appended to the log
"""
