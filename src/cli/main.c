#include <stdio.h>

int main(void)
{
    fprintf(stderr, "diorama: being built\n");
    return 1;
}
