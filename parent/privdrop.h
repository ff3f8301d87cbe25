#ifndef RTFTP_PRIVDROP_H
#define RTFTP_PRIVDROP_H

struct passwd;

/* Become USER (when root) with no capabilities, no supplementary groups but kvm (kept only
 * where the mounters can use /dev/kvm), an empty bounding set, and no way back (checked).
 * NULL user: stay who we are, but still drop everything. */
void privdrop(const char *user);
/* Why pw may not be the service user (uid 0, or primary group 0), or NULL. */
const char *privdrop_refusal(const struct passwd *pw);
#endif
