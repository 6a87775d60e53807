"""The domain as plain functions. Services never import Flask's request, web or jobs.

The commit rule: a service leaves the commit to its caller (a view, a job, a CLI command), so
that one request or job is one unit of work. The exceptions are steps that must be durable
before the outside world hears of them, or that must hold whatever happens next, and each says
so in its docstring ("Commits: ..."):
- claiming a send row before the SMTP server hears of the email, and the promotion code minted
  for it (sending.send_step);
- recording what a send or a re-check came to, deferrals included, between calls to Stripe and
  to the SMTP server (recovery.process, sending.retry_one, sending.expire_claims);
- a batch of Stripe events claimed, applied and marked in one transaction (events.apply_batch);
- an attempt counted before it is judged, so that simultaneous attempts see each other
  (login_limits.admit_login and admit_signup, invitations.invite, password_reset.admit,
  test_sends.request);
- a long job's progress, batch by batch, so that its page moves and a crash resumes where it
  stopped (csv_imports.process, dry_run.process);
- a result that must hold before an email about it goes out, or before the next item is taken
  (domain_watch.recheck, test_sends.deliver, held_unsubscribes.apply_held);
- cases decided again after a change, so that their pages say so at once (recovery.reconsider,
  shopper.unsubscribe_and_stop);
- a link to Stripe that must hold before the page says so (connections.link_and_commit), and a
  disconnection that must hold whatever Stripe answers (connections.disconnect_and_revoke);
- an invitation saved before an email names it (account_emails.send_invitation), and a refused
  delivery kept before Stripe is asked about it (webhook_health.confirm_refusal).

No transaction is held open across a call to Stripe, DNS or a mail server: each commits first
(recovery.process, promotions.mint, domain_watch.recheck, test_sends.deliver).
"""
