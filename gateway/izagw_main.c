/* izagw - the region gateway CLI (being assembled; see gateway/cli.c). */
#include <stdio.h>

int main(void)
{
	fputs("izagw: under construction\n", stderr);
	return 2;
}
