export const PACKAGE_NAME = '@ssl/engine';
