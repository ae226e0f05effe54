/* meta.c: not written yet */
