/* The one function that turns a requested name into a name to open. The kernel does the
 * confinement (openat2 RESOLVE_BENEATH); this only normalises and refuses the unusable. */
#include <string.h>
#include <strings.h>

#include "worker.h"

static bool has_allowed_ext(const char *allow, const char *name)
{
	const char *dot = strrchr(name, '.');
	const char *slash = strrchr(name, '/');
	char key[64];
	if (!dot || (slash && dot < slash) || strlen(dot) + 3 > sizeof(key))
		return false;
	key[0] = ',';
	strcpy(key + 1, dot);
	strcat(key, ",");
	/* case-insensitive search of ",.ext," in ",.efi,.img," */
	for (const char *p = allow; (p = strchr(p, ',')) != NULL; p++)
		if (strncasecmp(p, key, strlen(key)) == 0)
			return true;
	return false;
}

int name_prepare(const struct worker_config *cfg, const char *raw, size_t rawlen,
		 char *out, size_t outlen, const char **why)
{
	size_t o = 0;
	if (rawlen == 0) {
		*why = "empty file name";
		return -1;
	}
	if (rawlen > TFTP_NAME_MAX || rawlen >= outlen) {
		*why = "file name too long";
		return -1;
	}
	for (size_t i = 0; i < rawlen; i++) {
		unsigned char ch = (unsigned char)raw[i];
		if (ch < 0x20 || ch == 0x7f) {
			*why = "control character in file name";
			return -1;
		}
		if (ch == '\\' && cfg->map_backslash)
			ch = '/';
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	/* GRUB and others ask for "/grub/grub.cfg": the leading slashes mean the TFTP root. */
	size_t skip = strspn(out, "/");
	memmove(out, out + skip, o - skip + 1);
	if (out[0] == '\0') {
		*why = "empty file name";
		return -1;
	}
	if (cfg->allow_ext[0] && !has_allowed_ext(cfg->allow_ext, out)) {
		*why = "file type not served";
		return -1;
	}
	return 0;
}
