#ifndef RTFTP_PRIVDROP_H
#define RTFTP_PRIVDROP_H

/* Become USER (when root) with no capabilities, no supplementary groups but kvm (kept only
 * where the mounters can use /dev/kvm), an empty bounding set, and no way back (checked).
 * NULL user: stay who we are, but still drop everything. */
void privdrop(const char *user);
#endif
