export const PACKAGE_NAME = 'ssl-train';
