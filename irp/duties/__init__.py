"""The closing duties of PLAN 4.5 and 4.6: sign-offs, report parts, acceptance."""
