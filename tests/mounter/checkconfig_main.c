/* Stand-in for `rtftp --check-config FILE` in these tests until the parent calls it:
 * the same function, parent/checkconfig.c. */
#include <stdio.h>

#include "checkconfig.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: checkconfig FILE\n");
		return 2;
	}
	return checkconfig_run(argv[1]);
}
