"use strict";
// What both Node peers' TOKEN authorizers share, as their READMEs leave it to the handler: the bearer token, the
// route's scope (from ROUTE_SCOPES, the table our authorizer reads), and API Gateway's policy answer.

const BEARER = "Bearer ";

/** The token after "Bearer ", or "" (which every verifier refuses). */
function bearerToken(event) {
  const header = event.authorizationToken;
  return typeof header === "string" && header.startsWith(BEARER) ? header.slice(BEARER.length) : "";
}

/** "METHOD /path" -> the scopes that open it, from ROUTE_SCOPES ("METHOD PATH SCOPE [SCOPE ...]" a line). */
function routeScopes(table) {
  const routes = new Map();
  for (const line of (table || "").split("\n")) {
    const [method, path, ...scopes] = line.trim().split(/\s+/);
    if (method && path && scopes.length) routes.set(`${method} ${path}`, scopes);
  }
  return routes;
}

const ROUTES = routeScopes(process.env.ROUTE_SCOPES);

/** The scopes that open the route a methodArn names (arn:...:apiId/stage/VERB/path), or none. */
function scopesFor(methodArn) {
  const [, , verb, ...path] = String(methodArn).split(":").pop().split("/");
  return ROUTES.get(`${verb} /${path.join("/")}`) || [];
}

/** Okta's checks beyond the signature, iss, aud and exp that the verifiers make: a client id, and a scope (scp, a
 * list) that opens this route. */
function allows(claims, methodArn) {
  if (typeof claims.cid !== "string" || !claims.cid) return false;
  const scp = claims.scp;
  return Array.isArray(scp) && scopesFor(methodArn).some((scope) => scp.includes(scope));
}

/** The blueprint's answer: a policy on the methodArn, and the caller's identity as context. */
function policy(claims, effect, methodArn) {
  return {
    principalId: String(claims.sub),
    policyDocument: {
      Version: "2012-10-17",
      Statement: [{ Action: "execute-api:Invoke", Effect: effect, Resource: [methodArn] }],
    },
    context: { clientId: String(claims.cid), scopes: Array.isArray(claims.scp) ? claims.scp.join(" ") : "" },
  };
}

module.exports = { bearerToken, allows, policy };
