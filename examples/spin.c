// spin.c - an endless loop that makes no syscalls (stopped by --timeout).
int main(void) {
    volatile unsigned long n = 0;
    for (;;) n++;
}
