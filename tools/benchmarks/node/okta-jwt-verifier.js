"use strict";
// A TOKEN authorizer with @okta/jwt-verifier, as its README shows it ("Verify access tokens"). It takes https
// issuers only unless told `testing: { disableHttpsCheck: true }`, which the bench's loopback http keys server needs.
const OktaJwtVerifier = require("@okta/jwt-verifier");
const { bearerToken, allows, policy } = require("./common.js");

const issuer = process.env.ISSUER;
const audience = process.env.AUDIENCE;
const oktaJwtVerifier = new OktaJwtVerifier({
  issuer,
  testing: issuer.startsWith("http:") ? { disableHttpsCheck: true } : undefined,
});

exports.handler = async (event) => {
  let jwt;
  try {
    jwt = await oktaJwtVerifier.verifyAccessToken(bearerToken(event), audience);
  } catch {
    throw new Error("Unauthorized");
  }
  return policy(jwt.claims, allows(jwt.claims, event.methodArn) ? "Allow" : "Deny", event.methodArn);
};
