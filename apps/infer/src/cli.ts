#!/usr/bin/env node
import { PACKAGE_NAME } from './index.js';

console.log(PACKAGE_NAME);
