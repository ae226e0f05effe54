/* warn.c: not written yet */
