// Fragments as a Relay app writes them: refetchable objects through node(id), a paginated connection.
import { graphql } from "react-relay";

export const ladder = graphql`
  fragment ClassView_ladder on Ladder @refetchable(queryName: "ClassViewLadderRefetchQuery") {
    id
    title
    rungs { id code statement }
  }
`;

export const judgement = graphql`
  fragment ClassView_judgement on Judgement @refetchable(queryName: "ClassViewJudgementRefetchQuery") {
    id
  }
`;

export const assignment = graphql`
  fragment ClassView_assignment on Assignment @refetchable(queryName: "ClassViewAssignmentRefetchQuery") {
    id
    title
    dueOn
  }
`;

export const content = graphql`
  fragment ClassView_content on Content @refetchable(queryName: "ClassViewContentRefetchQuery") {
    id
    title
  }
`;

export const pupils = graphql`
  fragment ClassView_pupils on Query
  @refetchable(queryName: "ClassViewPupilsPaginationQuery")
  @argumentDefinitions(count: { type: "Int", defaultValue: 20 }, cursor: { type: "String" }) {
    pupils(first: $count, after: $cursor) @connection(key: "ClassView_pupils") {
      edges { node { id forename surname } }
    }
  }
`;
