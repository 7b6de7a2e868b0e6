"""Constants shared by the security tests: the credentials the authenticated nats-servers want."""

USER, PASSWORD, TOKEN = "alice", "pw-S3cret-7f2a", "tok-S3cret-91c4"
