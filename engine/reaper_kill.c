/* reaper_kill.c: not written yet */
