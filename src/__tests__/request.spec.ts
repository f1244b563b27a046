import {
  MlopsApiError,
  asApiError,
  errorFromResponse,
  queryString
} from '../api/request';

describe('errorFromResponse', () => {
  it('keeps the server message and code', () => {
    const error = errorFromResponse(
      400,
      JSON.stringify({
        message: "Query parameter 'x' is not known.",
        code: 'invalid_query'
      })
    );
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_query');
    expect(error.message).toBe("Query parameter 'x' is not known.");
  });

  it('keeps the problems of each parameter', () => {
    const error = errorFromResponse(
      400,
      JSON.stringify({
        message: "unknown parameter 'x'; parameter 'n' expects an integer",
        code: 'invalid_parameters',
        parameters: [
          { parameter: 'x', message: "unknown parameter 'x'" },
          { parameter: 'n', message: "parameter 'n' expects an integer" },
          { parameter: null, message: 'line 3 unpacks several names' },
          { message: 42 }
        ]
      })
    );
    expect(error.parameters).toEqual([
      { parameter: 'x', message: "unknown parameter 'x'" },
      { parameter: 'n', message: "parameter 'n' expects an integer" },
      { parameter: null, message: 'line 3 unpacks several names' }
    ]);
    expect(
      errorFromResponse(400, '{"message":"m","code":"c"}').parameters
    ).toEqual([]);
  });

  it('keeps the problems of each field', () => {
    const error = errorFromResponse(
      400,
      JSON.stringify({
        message: "Field 'name': invalid job name. Field 'deployment.cpu': ...",
        code: 'invalid_export',
        fields: [
          { field: 'name', message: 'Invalid job name.' },
          { field: 'deployment.cpu', message: "'x' is not a quantity." },
          { field: 3, message: 'not a field name' },
          'text'
        ]
      })
    );
    expect(error.fields).toEqual([
      { field: 'name', message: 'Invalid job name.' },
      { field: 'deployment.cpu', message: "'x' is not a quantity." }
    ]);
    expect(errorFromResponse(400, '{"message":"m","code":"c"}').fields).toEqual(
      []
    );
  });

  it('explains a body that is not JSON', () => {
    const error = errorFromResponse(502, '<html>Bad gateway</html>');
    expect(error.code).toBe('http_502');
    expect(error.message).toContain('HTTP 502');
  });
});

describe('queryString', () => {
  it('leaves out missing values and encodes the rest', () => {
    expect(
      queryString({ search: 'a b&c', max_results: 10, x: undefined })
    ).toBe('?search=a+b%26c&max_results=10');
    expect(queryString({ a: null })).toBe('');
  });
});

describe('asApiError', () => {
  it('keeps an API error as it is', () => {
    const error = new MlopsApiError('gone', 404, 'no_such_job');
    expect(asApiError(error)).toBe(error);
  });

  it('turns anything else into a client error with its message', () => {
    const fromError = asApiError(new TypeError('Failed to fetch'));
    expect([fromError.message, fromError.status, fromError.code]).toEqual([
      'Failed to fetch',
      0,
      'client_error'
    ]);
    expect(asApiError('boom').message).toBe('boom');
  });
});
