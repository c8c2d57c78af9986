/* izagen - demo data generator (being written). */
#include <stdio.h>

int main(void)
{
	fputs("izagen: under construction\n", stderr);
	return 2;
}
