/* shell.c: not written yet */
