#ifndef RTFTP_PRIVDROP_H
#define RTFTP_PRIVDROP_H
/* Become USER (when root) with no capabilities, no supplementary groups, an empty bounding
 * set, and no way back (checked). NULL user: stay who we are, but still drop everything. */
void privdrop(const char *user);
#endif
