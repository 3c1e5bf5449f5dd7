#!/usr/bin/env bash
# Checks the system packages the environment needs and says exactly what to install.
#   gfortran   - escnn builds py3nj from Fortran source
#   libosmesa6 - MuJoCo/robosuite CPU rendering (MUJOCO_GL=osmesa)
set -u
missing=()
command -v gfortran >/dev/null 2>&1 || missing+=(gfortran)
if ! ldconfig -p 2>/dev/null | grep -q 'libOSMesa\.so'; then missing+=(libosmesa6); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "Missing system packages: ${missing[*]}" >&2
  echo "  Debian/Ubuntu: sudo apt-get install -y ${missing[*]}" >&2
  echo "  conda:         conda env create -f environment.yml   (brings a Fortran compiler and OSMesa)" >&2
  echo "  (.ci/run installs them automatically when run as root)" >&2
  exit 1
fi
