/* Stands in for rtftp-mounter in tests of the parent: holds its channels open and does
 * nothing until the parent closes its end or stops it. */
#include <unistd.h>

int main(void)
{
	char buf[4096];
	while (read(3, buf, sizeof(buf)) > 0)
		;
	return 0;
}
