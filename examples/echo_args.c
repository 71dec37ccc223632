// echo_args.c - prints argc, every argv entry and every environment entry.
#include <stdio.h>

extern char** environ;

int main(int argc, char** argv) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    for (int i = 0; environ[i] != NULL; i++) printf("env[%d]=%s\n", i, environ[i]);
    return 0;
}
