// hello.c - the smallest Ember example: one line on stdout.
#include <stdio.h>

int main(void) {
    puts("Hello from Ember!");
    return 0;
}
