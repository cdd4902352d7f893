#!/usr/bin/env bash
# Waits until stopped. On SIGTERM (bitops passes docker stop's on to the step's process
# group) it leaves a mark in the mounted /reports folder, then exits.
trap 'echo "hook got SIGTERM" > /reports/hook-sigterm.txt; exit 143' TERM
echo "long step started"
sleep 600 &
wait $!
